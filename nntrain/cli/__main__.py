from nntrain.cli.app import main

main()
