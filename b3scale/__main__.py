"""`python -m b3scale`: the same entry point as the console script and the shiv zipapp."""

from b3scale.cli import main

if __name__ == "__main__":
    main()
