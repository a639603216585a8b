from workers.auth.service import setup
from workers.runtime import run

run("auth", setup)
