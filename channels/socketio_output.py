"""What the widget's channel sends: bot messages on socket.io, marked for the widget.

`TrackingOutput` remembers whether a turn sent the patient anything (a silent
turn gets the technical-trouble answer) and answers the socket that asked. Bot
messages that carry or ask for appointment-form answers are marked for the
widget's storage (`message_privacy`): "private" (not to be stored by the
widget) and "private_reply" (the patient's next message is a form answer, not
to be stored either): questions of the form (utter_ask_*), and action messages
marked so (actions/appointments.py).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Text

from rasa.core.channels.socketio import SocketIOOutput
from socketio import AsyncServer


def message_privacy(message: Mapping[str, Any]) -> Dict[str, bool]:
    """Flags for the widget's storage (module docstring) from a Rasa bot message."""
    flags = {}
    utter_action = message.get("utter_action")
    if message.get("private_reply") is True or (
        isinstance(utter_action, str) and utter_action.startswith("utter_ask_")
    ):
        flags["private_reply"] = True
    if message.get("private") is True:
        flags["private"] = True
    return flags


class TrackingOutput(SocketIOOutput):
    """SocketIOOutput that remembers whether the turn sent the patient anything.

    With `reply_to` (a callable giving the socket to answer, or None), a turn's
    replies go to the socket that asked, not to every socket of the session:
    a duplicated browser tab shares the session id but must not receive the
    other tab's answers. Without it (messages Rasa sends outside a turn), they
    go to the session's room.
    """

    def __init__(
        self,
        sio: AsyncServer,
        bot_message_evt: Text,
        namespace: Optional[Text] = None,
        reply_to: Optional[Callable[[], Optional[Text]]] = None,
    ) -> None:
        super().__init__(sio, bot_message_evt)
        self.namespace = namespace
        self.reply_to = reply_to
        self.sent = 0
        self.flags: Dict[str, bool] = {}

    def room(self, recipient_id: Text) -> Text:
        return (self.reply_to() if self.reply_to else None) or recipient_id

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        self.flags = message_privacy(message)
        try:
            await super().send_response(recipient_id, message)
        finally:
            self.flags = {}

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        self.sent += 1
        if self.flags and isinstance(response, dict):
            response = {**response, **self.flags}
        await self.sio.emit(
            self.bot_message_evt, response, room=self.room(socket_id), namespace=self.namespace
        )

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        # Rasa's convention: the custom JSON holds socket.io emit() arguments ("data", ...)
        self.sent += 1
        arguments = dict(json_message)
        arguments.setdefault("room", self.room(recipient_id))
        arguments.setdefault("namespace", self.namespace)
        await self.sio.emit(self.bot_message_evt, **arguments)
