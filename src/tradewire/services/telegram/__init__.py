"""The installation's Telegram bot: linking chats to users, notifications from the events outbox, and
the commands of linked chats. The bot itself (python-telegram-bot) is an adapter; these use cases
reach it only through `ports.telegram.Messenger`."""
