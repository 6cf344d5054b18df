"""The agents', trainers' and supervisors' web workbench (aiohttp; see `app.create_app`)."""
