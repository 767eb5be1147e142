"""The portal's screens, one module each; `taktline.portal.router.install` mounts them all."""
