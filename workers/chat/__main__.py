from workers.chat.service import setup
from workers.runtime import run

run("chat", setup)
