from ai4scale.cli import main

raise SystemExit(main())
