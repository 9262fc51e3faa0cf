from jobledger.adapters.cli.main import run

run()
