from r2e.cli import main

main()
