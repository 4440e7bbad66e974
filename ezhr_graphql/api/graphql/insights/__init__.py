"""Knowledge gaps for HR admins: insights and approved answers."""
