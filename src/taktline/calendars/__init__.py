"""Working calendars: weekly working hours of facilities and resources, and exceptions."""
