from distill_assets.cli import main

raise SystemExit(main())
