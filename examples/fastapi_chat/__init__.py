"""A chat app with its own login that vends Momento tokens from its own route: the Python analogue of Momento's
Next.js chat example. See README.md. The app is `app.create_app` (FastAPI); `users`, `pages`, `sessions`, `origins`,
`limits`, `forms` and `settings` need no web framework (the Flask example, examples/flask_chat, uses them too), so
nothing is imported here."""
