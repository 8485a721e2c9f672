"""The Customers page (C1-C4): the list and its query, invitations and exports as bulk jobs,
one customer's detail, and the generator of realistic data for demos and benchmarks."""
