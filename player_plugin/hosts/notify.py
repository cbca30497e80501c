"""Desktop notifications (``org.freedesktop.Notifications``) through QtDBus.

Used for the optional "now playing" notice on each track change (setting
``notify_track_change``, off by default). Each new notice replaces the previous one, so
a run of skips leaves one bubble, not a pile.

``Notify`` takes a ``u`` (uint32) and an ``as``; PySide would send a Python int as ``i``
and an empty list as ``av``, which the server refuses. So the call goes through the
server's introspected interface (``QDBusInterface``), invoked with typed arguments: Qt
then marshals each by the declared type. The call waits at most
:data:`CALL_TIMEOUT_MS` for the answer, and only when notifications are switched on.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Q_ARG, Q_RETURN_ARG, QMetaObject, QObject, Qt
from PySide6.QtDBus import QDBusConnection, QDBusInterface

log = logging.getLogger(__name__)

SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
CALL_TIMEOUT_MS = 1000
EXPIRE_MS = 5000


class Notifier(QObject):
    """Sends "now playing" notices; a missing notification service is logged once."""

    def __init__(self, app_name: str = "Segue", icon: str = "segue", parent=None) -> None:
        super().__init__(parent)
        self.app_name = app_name
        self.icon = icon
        self._iface: QDBusInterface | None = None
        self._last_id = 0
        self._unavailable = False

    def _interface(self) -> QDBusInterface | None:
        if self._iface is not None or self._unavailable:
            return self._iface
        bus = QDBusConnection.sessionBus()
        iface = QDBusInterface(SERVICE, PATH, SERVICE, bus, self) if bus.isConnected() else None
        if iface is None or not iface.isValid():
            self._unavailable = True
            log.info("no desktop notification service on the session bus")
            return None
        iface.setTimeout(CALL_TIMEOUT_MS)
        self._iface = iface
        return iface

    def notify(self, summary: str, body: str = "") -> bool:
        """Show (or replace) the notice; False when there is no notification service."""
        iface = self._interface()
        if iface is None:
            return False
        try:
            new_id = QMetaObject.invokeMethod(
                iface,
                "Notify",
                Qt.ConnectionType.DirectConnection,
                Q_RETURN_ARG("uint"),
                Q_ARG(str, self.app_name),
                Q_ARG("uint", self._last_id),
                Q_ARG(str, self.icon),
                Q_ARG(str, summary),
                Q_ARG(str, body),
                Q_ARG("QStringList", []),
                Q_ARG("QVariantMap", {}),
                Q_ARG(int, EXPIRE_MS),
            )
        except (RuntimeError, TypeError) as exc:  # the server's interface is not the spec's
            log.info("desktop notification failed: %s", exc)
            return False
        if isinstance(new_id, int) and new_id > 0:
            self._last_id = new_id
            return True
        log.info("desktop notification failed: %s", iface.lastError().message())
        return False
