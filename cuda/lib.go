//go:build ultracuda

package cuda

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include "ucuda.h"

#define UCU_DRIVER_PFN(name, params) typedef ucu_result(*ucu_pfn_##name) params;
UCU_DRIVER_FUNCS(UCU_DRIVER_PFN)
#define UCU_CUBLAS_PFN(name, params) typedef ucublas_status(*ucu_pfn_##name) params;
UCU_CUBLAS_FUNCS(UCU_CUBLAS_PFN)
#define UCU_FIELD(name, params) ucu_pfn_##name name;

// ucu_driver and ucu_cublas hold the bound entry points of one library.
typedef struct { UCU_DRIVER_FUNCS(UCU_FIELD) } ucu_driver;
typedef struct { UCU_CUBLAS_FUNCS(UCU_FIELD) } ucu_cublas;

// ucu_open dlopens path; on failure it returns NULL and sets *err.
static void* ucu_open(const char* path, const char** err) {
	void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) *err = dlerror();
	return h;
}

// ucu_bind_* fill the table from lib and return the first symbol that is
// missing, or NULL.
#define UCU_BIND(name, params) t->name = (ucu_pfn_##name)dlsym(lib, #name); if (!t->name) return #name;
static const char* ucu_bind_driver(void* lib, ucu_driver* t) { UCU_DRIVER_FUNCS(UCU_BIND) return NULL; }
static const char* ucu_bind_cublas(void* lib, ucu_cublas* t) { UCU_CUBLAS_FUNCS(UCU_BIND) return NULL; }

// ucu_use makes ctx current on the calling thread (goroutines move between
// threads, so every entry point that needs the context calls it).
static ucu_result ucu_use(const ucu_driver* d, ucu_context ctx) {
	ucu_context cur = NULL;
	if (d->cuCtxGetCurrent(&cur) == 0 && cur == ctx) return 0;
	return d->cuCtxSetCurrent(ctx);
}

// ucu_launch launches fn on a 1-D grid with the packed argument buffer.
static ucu_result ucu_launch(const ucu_driver* d, ucu_context ctx, ucu_function fn, unsigned int grid,
                             unsigned int block, ucu_stream s, void* args, size_t size) {
	ucu_result r = ucu_use(d, ctx);
	if (r) return r;
	void* extra[] = {UCU_LAUNCH_PARAM_BUFFER_POINTER, args, UCU_LAUNCH_PARAM_BUFFER_SIZE, &size, UCU_LAUNCH_PARAM_END};
	return d->cuLaunchKernel(fn, grid, 1, 1, block, 1, 1, 0, s, NULL, extra);
}

// ucu_htod queues a copy of host memory to the device. From pageable
// memory the driver returns once the source has been staged, so src may be
// reused (and may be Go memory) after the call; from page-locked memory
// (ucu_host_alloc) the copy reads src when it runs, after the call.
static ucu_result ucu_htod(const ucu_driver* d, ucu_context ctx, ucu_stream s, ucu_deviceptr dst, const void* src,
                           size_t n) {
	ucu_result r = ucu_use(d, ctx);
	if (r) return r;
	return d->cuMemcpyHtoDAsync_v2(dst, src, n, s);
}

// ucu_dtoh copies device memory to the host after the stream's queued work,
// and waits for the copy.
static ucu_result ucu_dtoh(const ucu_driver* d, ucu_context ctx, ucu_stream s, void* dst, ucu_deviceptr src,
                           size_t n) {
	ucu_result r = ucu_use(d, ctx);
	if (r) return r;
	r = d->cuMemcpyDtoHAsync_v2(dst, src, n, s);
	if (r) return r;
	return d->cuStreamSynchronize(s);
}

// ucu_dtoh_async queues a copy of device memory into page-locked host
// memory, which holds the data once the stream has run the copy.
static ucu_result ucu_dtoh_async(const ucu_driver* d, ucu_context ctx, ucu_stream s, void* dst, ucu_deviceptr src,
                                 size_t n) {
	ucu_result r = ucu_use(d, ctx);
	if (r) return r;
	return d->cuMemcpyDtoHAsync_v2(dst, src, n, s);
}

// ucu_host_alloc allocates n bytes of page-locked host memory.
static ucu_result ucu_host_alloc(const ucu_driver* d, ucu_context ctx, void** p, size_t n) {
	ucu_result r = ucu_use(d, ctx);
	if (r) return r;
	return d->cuMemHostAlloc(p, n, 0);
}

static ucu_result ucu_host_free(const ucu_driver* d, ucu_context ctx, void* p) {
	ucu_result r = ucu_use(d, ctx);
	if (r) return r;
	return d->cuMemFreeHost(p);
}

static ucu_result ucu_dtod(const ucu_driver* d, ucu_context ctx, ucu_stream s, ucu_deviceptr dst, ucu_deviceptr src,
                           size_t n) {
	ucu_result r = ucu_use(d, ctx);
	if (r) return r;
	return d->cuMemcpyDtoDAsync_v2(dst, src, n, s);
}

static ucu_result ucu_memset32(const ucu_driver* d, ucu_context ctx, ucu_stream s, ucu_deviceptr dst,
                               unsigned int v, size_t count) {
	ucu_result r = ucu_use(d, ctx);
	if (r) return r;
	return d->cuMemsetD32Async(dst, v, count, s);
}

static ucu_result ucu_sync(const ucu_driver* d, ucu_context ctx, ucu_stream s) {
	ucu_result r = ucu_use(d, ctx);
	if (r) return r;
	return d->cuStreamSynchronize(s);
}

static ucu_result ucu_alloc(const ucu_driver* d, ucu_context ctx, ucu_deviceptr* p, size_t n) {
	ucu_result r = ucu_use(d, ctx);
	if (r) return r;
	return d->cuMemAlloc_v2(p, n);
}

static ucu_result ucu_free(const ucu_driver* d, ucu_context ctx, ucu_deviceptr p) {
	ucu_result r = ucu_use(d, ctx);
	if (r) return r;
	return d->cuMemFree_v2(p);
}

// ucu_sgemm calls cublasSgemm with host-side alpha and beta. It returns
// the cuBLAS status; a failure to make the context current is reported as
// status 1000 + the CUresult.
static ucublas_status ucu_sgemm(const ucu_driver* d, ucu_context ctx, const ucu_cublas* b, ucublas_handle h,
                                int ta, int tb, int m, int n, int k, float alpha, ucu_deviceptr A, int lda,
                                ucu_deviceptr B, int ldb, float beta, ucu_deviceptr C, int ldc) {
	ucu_result r = ucu_use(d, ctx);
	if (r) return 1000 + r;
	return b->cublasSgemm_v2(h, ta ? UCUBLAS_OP_T : UCUBLAS_OP_N, tb ? UCUBLAS_OP_T : UCUBLAS_OP_N, m, n, k, &alpha,
	                         (const float*)A, lda, (const float*)B, ldb, &beta, (float*)C, ldc);
}

// Pass-through wrappers: Go cannot call C function pointers itself.
static ucu_result ucu_cuInit(const ucu_driver* d) { return d->cuInit(0); }
static ucu_result ucu_cuDriverGetVersion(const ucu_driver* d, int* v) { return d->cuDriverGetVersion(v); }
static ucu_result ucu_cuDeviceGetCount(const ucu_driver* d, int* n) { return d->cuDeviceGetCount(n); }
static ucu_result ucu_cuDeviceGet(const ucu_driver* d, ucu_device* dev, int ord) { return d->cuDeviceGet(dev, ord); }
static ucu_result ucu_cuDeviceGetName(const ucu_driver* d, char* name, int len, ucu_device dev) {
	return d->cuDeviceGetName(name, len, dev);
}
static ucu_result ucu_cuDeviceGetAttribute(const ucu_driver* d, int* v, int attr, ucu_device dev) {
	return d->cuDeviceGetAttribute(v, attr, dev);
}
static ucu_result ucu_cuDeviceTotalMem(const ucu_driver* d, size_t* n, ucu_device dev) {
	return d->cuDeviceTotalMem_v2(n, dev);
}
static ucu_result ucu_cuDevicePrimaryCtxRetain(const ucu_driver* d, ucu_context* c, ucu_device dev) {
	return d->cuDevicePrimaryCtxRetain(c, dev);
}
static ucu_result ucu_cuDevicePrimaryCtxRelease(const ucu_driver* d, ucu_device dev) {
	return d->cuDevicePrimaryCtxRelease_v2(dev);
}
static ucu_result ucu_cuStreamCreate(const ucu_driver* d, ucu_context ctx, ucu_stream* s) {
	ucu_result r = ucu_use(d, ctx);
	return r ? r : d->cuStreamCreate(s, UCU_STREAM_NON_BLOCKING);
}
static ucu_result ucu_cuStreamDestroy(const ucu_driver* d, ucu_context ctx, ucu_stream s) {
	ucu_result r = ucu_use(d, ctx);
	return r ? r : d->cuStreamDestroy_v2(s);
}
static ucu_result ucu_cuModuleLoadData(const ucu_driver* d, ucu_context ctx, ucu_module* m, const void* image) {
	ucu_result r = ucu_use(d, ctx);
	return r ? r : d->cuModuleLoadData(m, image);
}
static ucu_result ucu_cuModuleUnload(const ucu_driver* d, ucu_context ctx, ucu_module m) {
	ucu_result r = ucu_use(d, ctx);
	return r ? r : d->cuModuleUnload(m);
}
static ucu_result ucu_cuModuleGetFunction(const ucu_driver* d, ucu_context ctx, ucu_function* f, ucu_module m,
                                          const char* name) {
	ucu_result r = ucu_use(d, ctx);
	return r ? r : d->cuModuleGetFunction(f, m, name);
}
static ucu_result ucu_cuMemGetInfo(const ucu_driver* d, ucu_context ctx, size_t* free_bytes, size_t* total) {
	ucu_result r = ucu_use(d, ctx);
	return r ? r : d->cuMemGetInfo_v2(free_bytes, total);
}
static void ucu_error_name(const ucu_driver* d, ucu_result e, const char** name, const char** desc) {
	*name = NULL;
	*desc = NULL;
	if (d->cuGetErrorName(e, name) != 0) *name = NULL;
	if (d->cuGetErrorString(e, desc) != 0) *desc = NULL;
}

// Every cuBLAS call makes its context current in the same C call, as the
// driver calls do: a goroutine may move to another OS thread between two
// cgo calls, where another device's context, or none, is current. They
// report a failure to make the context current as 1000 + the CUresult
// (cuBLAS statuses are below 1000).
static ucublas_status ucu_cublasCreate(const ucu_driver* d, ucu_context ctx, const ucu_cublas* b,
                                       ucublas_handle* h) {
	ucu_result r = ucu_use(d, ctx);
	return r ? 1000 + r : b->cublasCreate_v2(h);
}
static ucublas_status ucu_cublasDestroy(const ucu_driver* d, ucu_context ctx, const ucu_cublas* b,
                                        ucublas_handle h) {
	ucu_result r = ucu_use(d, ctx);
	return r ? 1000 + r : b->cublasDestroy_v2(h);
}
static ucublas_status ucu_cublasGetVersion(const ucu_driver* d, ucu_context ctx, const ucu_cublas* b,
                                           ucublas_handle h, int* v) {
	ucu_result r = ucu_use(d, ctx);
	return r ? 1000 + r : b->cublasGetVersion_v2(h, v);
}
static ucublas_status ucu_cublasSetStream(const ucu_driver* d, ucu_context ctx, const ucu_cublas* b,
                                          ucublas_handle h, ucu_stream s) {
	ucu_result r = ucu_use(d, ctx);
	return r ? 1000 + r : b->cublasSetStream_v2(h, s);
}
static ucublas_status ucu_cublasSetMathMode(const ucu_driver* d, ucu_context ctx, const ucu_cublas* b,
                                            ucublas_handle h, int mode) {
	ucu_result r = ucu_use(d, ctx);
	return r ? 1000 + r : b->cublasSetMathMode(h, (ucublas_math)mode);
}
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"
)

// driverLib is a loaded and bound libcuda.
type driverLib struct {
	path string
	t    *C.ucu_driver // C memory: the table is passed to C on every call
}

// cublasLib is a loaded and bound libcublas.
type cublasLib struct {
	path string
	t    *C.ucu_cublas
}

// Libraries are loaded once per path and never unloaded (unloading libcuda
// while contexts may exist is unsafe).
var (
	libMu    sync.Mutex
	drivers  = map[string]*driverLib{}
	cublases = map[string]*cublasLib{}
)

// DefaultDriver is the driver library loaded when Options.Driver and
// $ULTRA_CUDA_DRIVER are empty.
const DefaultDriver = "libcuda.so.1"

// DefaultCublas lists the cuBLAS libraries tried, newest first, when
// Options.Cublas and $ULTRA_CUDA_CUBLAS are empty.
var DefaultCublas = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11"}

// dlopen opens path with RTLD_NOW and returns the handle or dlerror's text.
func dlopen(path string) (unsafe.Pointer, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var cerr *C.char
	h := C.ucu_open(cpath, &cerr)
	if h == nil {
		msg := "unknown dlopen error"
		if cerr != nil {
			msg = C.GoString(cerr)
		}
		return nil, fmt.Errorf("%s", msg)
	}
	return h, nil
}

// loadDriver loads and binds the driver library at path.
func loadDriver(path string) (*driverLib, error) {
	return load(drivers, path, driverWhat, " (driver too old? ultra needs a CUDA 11 or newer driver)",
		func(h unsafe.Pointer) (*driverLib, *C.char) {
			t := (*C.ucu_driver)(C.calloc(1, C.size_t(unsafe.Sizeof(C.ucu_driver{}))))
			if missing := C.ucu_bind_driver(h, t); missing != nil {
				C.free(unsafe.Pointer(t))
				return nil, missing
			}
			return &driverLib{path: path, t: t}, nil
		})
}

// loadCublas loads and binds the cuBLAS library at path.
func loadCublas(path string) (*cublasLib, error) {
	return load(cublases, path, "cuBLAS", "", func(h unsafe.Pointer) (*cublasLib, *C.char) {
		t := (*C.ucu_cublas)(C.calloc(1, C.size_t(unsafe.Sizeof(C.ucu_cublas{}))))
		if missing := C.ucu_bind_cublas(h, t); missing != nil {
			C.free(unsafe.Pointer(t))
			return nil, missing
		}
		return &cublasLib{path: path, t: t}, nil
	})
}

// load dlopens path once per process and binds it with bind, which returns
// the bound library or the first symbol missing from it.
func load[T any](cache map[string]*T, path, what, hint string, bind func(h unsafe.Pointer) (*T, *C.char)) (*T, error) {
	libMu.Lock()
	defer libMu.Unlock()
	if l, ok := cache[path]; ok {
		return l, nil
	}
	h, err := dlopen(path)
	if err != nil {
		return nil, &LoadError{Lib: path, What: what, Err: err}
	}
	l, missing := bind(h)
	if missing != nil {
		return nil, &LoadError{Lib: path, What: what, Err: fmt.Errorf("symbol %s is missing%s", C.GoString(missing), hint)}
	}
	cache[path] = l
	return l, nil
}

// driverPath and cublasPaths resolve the libraries to load from the
// options, then the environment, then the defaults.
func driverPath(o Options) string {
	if o.Driver != "" {
		return o.Driver
	}
	if p := os.Getenv("ULTRA_CUDA_DRIVER"); p != "" {
		return p
	}
	return DefaultDriver
}

func cublasPaths(o Options) []string {
	if o.Cublas != "" {
		return []string{o.Cublas}
	}
	if p := os.Getenv("ULTRA_CUDA_CUBLAS"); p != "" {
		return strings.Split(p, ":")
	}
	return DefaultCublas
}

// errorName asks the driver for a CUresult's name and description.
func (d *driverLib) errorName(r C.ucu_result) (name, desc string) {
	var n, s *C.char
	C.ucu_error_name(d.t, r, &n, &s)
	if n != nil {
		name = C.GoString(n)
	} else {
		name = fmt.Sprintf("CUresult %d", int(r))
	}
	if s != nil {
		desc = C.GoString(s)
	}
	return name, desc
}

// check turns a CUresult into nil or an *Error naming call.
func (d *driverLib) check(r C.ucu_result, call string) error {
	if r == 0 {
		return nil
	}
	name, desc := d.errorName(r)
	return &Error{Call: call, Code: int(r), Name: name, Desc: desc}
}

// Handles of driver and cuBLAS objects, for the rest of the package (only
// this file uses cgo).
type (
	cDevice   = C.ucu_device
	cContext  = C.ucu_context
	cStream   = C.ucu_stream
	cModule   = C.ucu_module
	cFunction = C.ucu_function
	cHandle   = C.ucublas_handle
)

// session is what every call needs: the driver, the context and the
// stream. pinned is set while a copy to or from page-locked memory may be
// queued and not yet waited for.
type session struct {
	drv    *driverLib
	ctx    cContext
	stream cStream
	pinned bool
}

func (d *driverLib) init() error {
	return d.check(C.ucu_cuInit(d.t), "cuInit")
}

func (d *driverLib) version() (int, error) {
	var v C.int
	err := d.check(C.ucu_cuDriverGetVersion(d.t, &v), "cuDriverGetVersion")
	return int(v), err
}

func (d *driverLib) deviceCount() (int, error) {
	var n C.int
	err := d.check(C.ucu_cuDeviceGetCount(d.t, &n), "cuDeviceGetCount")
	return int(n), err
}

func (d *driverLib) device(ordinal int) (cDevice, error) {
	var dev C.ucu_device
	err := d.check(C.ucu_cuDeviceGet(d.t, &dev, C.int(ordinal)), "cuDeviceGet")
	return dev, err
}

func (d *driverLib) deviceName(dev cDevice) (string, error) {
	var buf [256]C.char
	if err := d.check(C.ucu_cuDeviceGetName(d.t, &buf[0], C.int(len(buf)), dev), "cuDeviceGetName"); err != nil {
		return "", err
	}
	return C.GoString(&buf[0]), nil
}

func (d *driverLib) attribute(dev cDevice, attr int, name string) (int, error) {
	var v C.int
	err := d.check(C.ucu_cuDeviceGetAttribute(d.t, &v, C.int(attr), dev), "cuDeviceGetAttribute("+name+")")
	return int(v), err
}

func (d *driverLib) totalMem(dev cDevice) (int64, error) {
	var n C.size_t
	err := d.check(C.ucu_cuDeviceTotalMem(d.t, &n, dev), "cuDeviceTotalMem")
	return int64(n), err
}

func (d *driverLib) retainPrimary(dev cDevice) (cContext, error) {
	var c C.ucu_context
	err := d.check(C.ucu_cuDevicePrimaryCtxRetain(d.t, &c, dev), "cuDevicePrimaryCtxRetain")
	return c, err
}

func (d *driverLib) releasePrimary(dev cDevice) error {
	return d.check(C.ucu_cuDevicePrimaryCtxRelease(d.t, dev), "cuDevicePrimaryCtxRelease")
}

func (d *driverLib) newStream(ctx cContext) (cStream, error) {
	var s C.ucu_stream
	err := d.check(C.ucu_cuStreamCreate(d.t, ctx, &s), "cuStreamCreate")
	return s, err
}

func (s *session) destroyStream() error {
	return s.drv.check(C.ucu_cuStreamDestroy(s.drv.t, s.ctx, s.stream), "cuStreamDestroy")
}

// loadModule loads a fatbin, cubin or PTX image (the driver parses it during
// the call, so image may be Go memory).
func (s *session) loadModule(image []byte) (cModule, error) {
	var m C.ucu_module
	err := s.drv.check(C.ucu_cuModuleLoadData(s.drv.t, s.ctx, &m, unsafe.Pointer(&image[0])), "cuModuleLoadData")
	return m, err
}

func (s *session) unloadModule(m cModule) error {
	return s.drv.check(C.ucu_cuModuleUnload(s.drv.t, s.ctx, m), "cuModuleUnload")
}

func (s *session) function(m cModule, name string) (cFunction, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var f C.ucu_function
	err := s.drv.check(C.ucu_cuModuleGetFunction(s.drv.t, s.ctx, &f, m, cname), "cuModuleGetFunction("+name+")")
	return f, err
}

func (s *session) memInfo() (free, total int64, err error) {
	var f, t C.size_t
	err = s.drv.check(C.ucu_cuMemGetInfo(s.drv.t, s.ctx, &f, &t), "cuMemGetInfo")
	return int64(f), int64(t), err
}

func (s *session) alloc(bytes int) (Ptr, error) {
	var p C.ucu_deviceptr
	err := s.drv.check(C.ucu_alloc(s.drv.t, s.ctx, &p, C.size_t(bytes)), "cuMemAlloc")
	return Ptr(p), err
}

func (s *session) free(p Ptr) error {
	return s.drv.check(C.ucu_free(s.drv.t, s.ctx, C.ucu_deviceptr(p)), "cuMemFree")
}

func (s *session) htod(dst Ptr, src unsafe.Pointer, bytes int) error {
	return s.drv.check(C.ucu_htod(s.drv.t, s.ctx, s.stream, C.ucu_deviceptr(dst), src, C.size_t(bytes)), "cuMemcpyHtoDAsync")
}

// htodPinned queues a copy from page-locked memory.
func (s *session) htodPinned(dst Ptr, src unsafe.Pointer, bytes int) error {
	s.pinned = true
	return s.htod(dst, src, bytes)
}

// dtoh copies to the host and waits.
func (s *session) dtoh(dst unsafe.Pointer, src Ptr, bytes int) error {
	err := s.drv.check(C.ucu_dtoh(s.drv.t, s.ctx, s.stream, dst, C.ucu_deviceptr(src), C.size_t(bytes)), "cuMemcpyDtoHAsync")
	if err == nil {
		s.pinned = false
	}
	return err
}

// dtohPinned queues a copy into page-locked memory.
func (s *session) dtohPinned(dst unsafe.Pointer, src Ptr, bytes int) error {
	s.pinned = true
	return s.drv.check(C.ucu_dtoh_async(s.drv.t, s.ctx, s.stream, dst, C.ucu_deviceptr(src), C.size_t(bytes)), "cuMemcpyDtoHAsync")
}

func (s *session) hostAlloc(bytes int) (unsafe.Pointer, error) {
	var p unsafe.Pointer
	err := s.drv.check(C.ucu_host_alloc(s.drv.t, s.ctx, &p, C.size_t(bytes)), "cuMemHostAlloc")
	return p, err
}

func (s *session) hostFree(p unsafe.Pointer) error {
	return s.drv.check(C.ucu_host_free(s.drv.t, s.ctx, p), "cuMemFreeHost")
}

func (s *session) dtod(dst, src Ptr, bytes int) error {
	return s.drv.check(C.ucu_dtod(s.drv.t, s.ctx, s.stream, C.ucu_deviceptr(dst), C.ucu_deviceptr(src), C.size_t(bytes)), "cuMemcpyDtoDAsync")
}

func (s *session) memset32(dst Ptr, v uint32, count int) error {
	return s.drv.check(C.ucu_memset32(s.drv.t, s.ctx, s.stream, C.ucu_deviceptr(dst), C.uint(v), C.size_t(count)), "cuMemsetD32Async")
}

func (s *session) sync() error {
	err := s.drv.check(C.ucu_sync(s.drv.t, s.ctx, s.stream), "cuStreamSynchronize")
	if err == nil {
		s.pinned = false
	}
	return err
}

// launch starts fn with the packed arguments args (copied by the driver
// during the call) and returns the CUresult as an error naming the kernel.
func (s *session) launch(fn cFunction, name string, grid, block int, args []byte) error {
	r := C.ucu_launch(s.drv.t, s.ctx, fn, C.uint(grid), C.uint(block), s.stream, unsafe.Pointer(&args[0]), C.size_t(len(args)))
	if r == 0 {
		return nil
	}
	return s.drv.check(r, "cuLaunchKernel("+name+")")
}

// blas is a cuBLAS handle bound to a session's stream.
type blas struct {
	lib *cublasLib
	h   cHandle
}

// cublasCheck turns a status from the ucu_cublas* wrappers into an error.
func (s *session) cublasCheck(st C.ucublas_status, call string) error {
	switch {
	case st == 0:
		return nil
	case st >= 1000:
		return s.drv.check(C.ucu_result(st-1000), call+": cuCtxSetCurrent")
	}
	return &CublasError{Call: call, Status: int(st)}
}

func (s *session) newBlas(lib *cublasLib, tf32 bool) (*blas, error) {
	var h C.ucublas_handle
	if err := s.cublasCheck(C.ucu_cublasCreate(s.drv.t, s.ctx, lib.t, &h), "cublasCreate"); err != nil {
		return nil, err
	}
	b := &blas{lib: lib, h: h}
	mode := C.int(C.UCUBLAS_DEFAULT_MATH)
	if tf32 {
		mode = C.UCUBLAS_TF32_TENSOR_OP_MATH
	}
	if err := s.cublasCheck(C.ucu_cublasSetStream(s.drv.t, s.ctx, lib.t, h, s.stream), "cublasSetStream"); err != nil {
		s.destroyBlas(b)
		return nil, err
	}
	if err := s.cublasCheck(C.ucu_cublasSetMathMode(s.drv.t, s.ctx, lib.t, h, mode), "cublasSetMathMode"); err != nil {
		s.destroyBlas(b)
		return nil, err
	}
	return b, nil
}

func (s *session) blasVersion(b *blas) (int, error) {
	var v C.int
	err := s.cublasCheck(C.ucu_cublasGetVersion(s.drv.t, s.ctx, b.lib.t, b.h, &v), "cublasGetVersion")
	return int(v), err
}

func (s *session) destroyBlas(b *blas) error {
	return s.cublasCheck(C.ucu_cublasDestroy(s.drv.t, s.ctx, b.lib.t, b.h), "cublasDestroy")
}

// sgemm is cublasSgemm (column-major) with host scalars.
func (s *session) sgemm(b *blas, ta, tb bool, m, n, k int, alpha float32, a Ptr, lda int, bm Ptr, ldb int, beta float32, c Ptr, ldc int) error {
	st := C.ucu_sgemm(s.drv.t, s.ctx, b.lib.t, b.h, cbool(ta), cbool(tb), C.int(m), C.int(n), C.int(k), C.float(alpha),
		C.ucu_deviceptr(a), C.int(lda), C.ucu_deviceptr(bm), C.int(ldb), C.float(beta), C.ucu_deviceptr(c), C.int(ldc))
	return s.cublasCheck(st, "cublasSgemm")
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Device attributes (cuda.h CUdevice_attribute).
const (
	attrSMs     = C.UCU_ATTR_MULTIPROCESSOR_COUNT
	attrCCMajor = C.UCU_ATTR_CC_MAJOR
	attrCCMinor = C.UCU_ATTR_CC_MINOR
)
