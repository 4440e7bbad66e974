"""What HR learns from the questions asked (insights), and the answers HR approves."""
