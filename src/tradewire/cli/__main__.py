from tradewire.cli import app

app()
