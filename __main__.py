"""``python -m initbounds``: the same command as ``initbounds``."""
from .cli import main

if __name__ == "__main__":
    main()
