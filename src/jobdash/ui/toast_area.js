// ToastArea's front end (toast_area.py says why).

export function render({ model }) {
  let toaster = null
  // Entries already listed when the view renders were shown elsewhere.
  let shown = Math.max(-1, ...model.toasts.map((toast) => toast.seq))
  model.on("toasts", () => {
    if (window.Notyf === undefined) {
      return
    }
    if (toaster === null) {
      toaster = new window.Notyf({
        dismissible: true,
        position: {x: "right", y: "bottom"},
        types: model.types,
      })
    }
    for (const toast of model.toasts) {
      if (toast.seq > shown) {
        shown = toast.seq
        toaster.open({
          type: toast.type,
          message: toast.message,
          duration: toast.duration,
        })
      }
    }
  })
}
