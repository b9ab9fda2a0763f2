from autovid.entrypoints.cli import app

app()
