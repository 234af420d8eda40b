"""The public coupon page (DESIGN 2.8): what the customer opens and the shop's staff use.
tokens.py names a coupon's page, view.py decides what it shows, html.py writes it, text.py holds
its words in every language, web.py turns an HTTP event into a page and back."""
