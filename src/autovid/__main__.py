from autovid.entrypoints.cli import main

main()
