from docbin.cli.commands import main

main()
