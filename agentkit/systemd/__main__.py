from agentkit.systemd.systemctl import main

raise SystemExit(main())
