from django.db import migrations, models


class Migration(migrations.Migration):
    """Sessions bound to a DPoP key (RFC 9449): the key's RFC 7638 thumbprint; blank for unbound ones."""

    dependencies = [
        ("tokens", "0003_user_cutoff"),
    ]

    operations = [
        migrations.AddField(
            model_name="session",
            name="dpop_jkt",
            field=models.CharField(blank=True, default="", max_length=64, verbose_name="DPoP key thumbprint"),
        ),
    ]
