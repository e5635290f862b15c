"""What ravelab knows of RAVE: configs, argv, gin, checkpoints, its output."""
