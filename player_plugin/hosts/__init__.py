"""Host adapters: the players Segue plugs into."""
