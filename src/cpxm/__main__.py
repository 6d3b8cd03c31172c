from cpxm.cli import app

# Guarded: a process started by multiprocessing's spawn imports the main module again.
if __name__ == "__main__":
    app(prog_name="cpxm")
