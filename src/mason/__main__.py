from mason.cli.main import main

raise SystemExit(main())
