"""placeholder"""

def register(subparsers, common):
    pass
