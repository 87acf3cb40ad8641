"""The simulated far side of telephony: a carrier and the prospects it plays."""
