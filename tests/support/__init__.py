"""Helpers shared by the tests: accounts on the test servers, runners, assertions."""
