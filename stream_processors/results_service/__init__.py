"""The results service: a materialised view of every request, served over HTTP."""
