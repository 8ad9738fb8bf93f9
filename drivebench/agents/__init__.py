"""Learning agents: BC, DAgger, GAIL and AIRL behind one interface and one budget (train.py)."""
