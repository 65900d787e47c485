"""The API service: a thin Flask app speaking the OpenStack Image API v2."""
