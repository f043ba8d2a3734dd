from kitab.cli import main

main()
