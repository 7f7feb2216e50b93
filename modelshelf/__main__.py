from modelshelf.cli.main import main

raise SystemExit(main())
