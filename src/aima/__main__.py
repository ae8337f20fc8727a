from aima.cli import main

main()
