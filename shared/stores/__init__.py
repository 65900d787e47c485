"""Store drivers behind one interface (``base.Store``), and the hashing stream they are fed from."""
