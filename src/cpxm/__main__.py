from cpxm.cli import app

app(prog_name="cpxm")
