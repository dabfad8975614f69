"""The example chat app with Flask (app.create_app): examples/fastapi_chat's site, sign-in and token route, with
its framework-free modules and only the wiring in Flask. See README.md."""
