"""Test harness: a desktop notification server (``org.freedesktop.Notifications``) that
prints each ``Notify`` call as a JSON line on stdout (after a ``ready`` line). Run it on the
session bus under test; it answers with increasing ids and quits after a minute."""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import ClassInfo, QCoreApplication, QObject, QTimer, Slot
from PySide6.QtDBus import QDBusAbstractAdaptor, QDBusConnection


@ClassInfo({"D-Bus Interface": "org.freedesktop.Notifications"})
class Notifications(QDBusAbstractAdaptor):
    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.last = 0

    @Slot(str, "uint", str, str, str, "QStringList", "QVariantMap", int, result="uint")
    def Notify(self, app, replaces, icon, summary, body, actions, hints, timeout):
        self.last += 1
        fields = {"app": app, "replaces": replaces, "icon": icon, "summary": summary}
        print(json.dumps({**fields, "body": body, "id": self.last}), flush=True)
        return self.last

    @Slot(result="QStringList")
    def GetCapabilities(self):
        return ["body"]


def main() -> int:
    app = QCoreApplication(sys.argv[:1])
    root = QObject()
    Notifications(root)
    bus = QDBusConnection.sessionBus()
    options = QDBusConnection.RegisterOption.ExportAdaptors
    ok = bus.registerObject("/org/freedesktop/Notifications", root, options)
    ok = ok and bus.registerService("org.freedesktop.Notifications")
    print(json.dumps({"ready": ok}), flush=True)
    QTimer.singleShot(60_000, app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
