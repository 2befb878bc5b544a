"""Never finishes importing (waits for a server that is not there)."""
import time

while True:
    time.sleep(0.01)
