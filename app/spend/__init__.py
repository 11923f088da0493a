"""What generation costs: the ledger of ended predictions, the month's reservations and the budget (`ledger`)."""
