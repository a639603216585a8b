from workers.rooms.service import setup
from workers.runtime import run

run("rooms", setup)
