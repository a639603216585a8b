from workers.moderation.service import setup
from workers.runtime import run

run("moderation", setup)
