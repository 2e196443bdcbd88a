from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView


class OrdersView(APIView):
    """A protected endpoint of the sibling service: who the token says the caller is."""

    def get(self, request):
        return Response({"user_id": request.user.id, "session_id": request.user.session_id})


urlpatterns = [path("orders", OrdersView.as_view())]
