from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView


class OrdersView(APIView):
    """A protected endpoint of the sibling service: who the token says the caller is."""

    def get(self, request):
        return Response({"user_id": request.user.id, "session_id": request.user.session_id})


class PayoutsView(APIView):
    """A sibling endpoint that demands a second factor: the token's amr must name one."""

    def get_permissions(self):
        from rest_framework.permissions import IsAuthenticated

        from tokens.permissions import SecondFactor

        return [IsAuthenticated(), SecondFactor()]

    def get(self, request):
        return Response({"amr": request.user.amr, "auth_time": request.user.auth_time})


urlpatterns = [path("orders", OrdersView.as_view()), path("payouts", PayoutsView.as_view())]
