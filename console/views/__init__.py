"""The console's pages, one blueprint per part of the menu (console/app.py registers
them); what they share is console/web.py."""
