"""The django-eventstream 5 peer for ``bench/peers.py``: a one-app Django project under ASGI."""
