"""HTTP routers, one per resource; assembled by :func:`node.worklist.app.create_app`."""
